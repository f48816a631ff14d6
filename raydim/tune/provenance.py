"""What a new search expects of a stored trial it would reuse: the :class:`Provenance` of each request.

The settings hash comes from the trial config (:func:`trial_settings_hash`); the
fingerprints are computed here, on the driver, from the data and model the trial
would use — the same functions the trainable reports with (``fine_tune``), the
layout predicted on the meta device. They are computed once per (task, model,
checkpoint, method), and only for requests a stored row could answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from raydim.errors import RaydimError
from raydim.models import parse_model_ref
from raydim.search import TrialRequest
from raydim.store.reuse import Provenance
from raydim.train.fingerprint import ENGINE_VERSION, data_fingerprint, expected_layout_fingerprint, model_fingerprint
from raydim.tune.template import TEMPLATE, TrialTemplate, trial_settings_hash

Fingerprints = tuple[str | None, str | None, str | None]  # data, model, layout


def expected_provenance(space: dict[str, Any]) -> Callable[[TrialRequest], Provenance]:
    """The provenance a trial of the search with this ``param_space`` would have, per request.

    A request whose task the template lacks (a simulated trial) trains on nothing:
    its fingerprints are None. One that cannot be fingerprinted here (a hub model
    not in the local cache) gets None there too, which no real trial's row has.
    """
    template = TrialTemplate.from_dict(space[TEMPLATE])

    @functools.cache
    def fingerprints(task: str, model: str, checkpoint: str, method: str) -> Fingerprints:
        if task not in template.data:
            return None, None, None
        # d, lr and seed leave the fingerprints alone: any will do for the key's TrainConfig
        train = template.train_config({"task": task, "model": model, "checkpoint": checkpoint, "method": method,
                                       "d": None if method == "full" else 1, "lr": 1.0, "seed": 0})
        try:
            data = train.data.load()  # loaded already by the search's targets: parsed once per process
            ref = parse_model_ref(train.model)
        except RaydimError:
            return None, None, None
        try:
            layout = expected_layout_fingerprint(ref, data.task.num_labels, train.method, train.grouping)
        except RaydimError:  # no config to build it from: the trial's own load reports why
            layout = None
        return data_fingerprint(data), model_fingerprint(ref), layout

    def provenance(request: TrialRequest) -> Provenance:
        key = request.key
        return Provenance(trial_settings_hash({**space, **request.config()}), ENGINE_VERSION,
                          *fingerprints(key.task, key.model, key.checkpoint, key.method))

    return provenance
