"""The paper's analyses over the results store, as functions returning data frames (for notebooks and
``raydim report``): the generalization bound at d90 beside the measured gap, d90 against model size (the slope
with its interval), and figures.

Typical use::

    report = build_report(ResultsStore.at("~/ray_results"), experiment="glue")
    report.d90, report.bounds, report.scaling      # pandas data frames
    print(format_trials(report, "md"))              # every trial the d90s came from
    write_figures(report, "figures/")
"""

from raydim.analysis.bounds import bound_table, compression_bound, measured_gap
from raydim.analysis.report import (FORMATS, Report, build_report, format_report, format_trials,
                                    write_figures)
from raydim.analysis.scaling import SlopeFit, scaling_table, slope_fit

__all__ = ["FORMATS", "Report", "SlopeFit", "bound_table", "build_report", "compression_bound", "format_report",
           "format_trials", "measured_gap", "scaling_table", "slope_fit", "write_figures"]
