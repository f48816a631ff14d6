"""Write tiny GLUE-layout folders that reproduce each task's file quirks."""

from __future__ import annotations

from pathlib import Path

BOM = "\ufeff"

# task dir -> file -> content; every row is in the task's real column layout
FILES: dict[str, dict[str, str]] = {
    "CoLA": {  # no header row
        "train.tsv": "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n"
                     "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\n",
        "dev.tsv": "gj04\t1\t\tThe more we study verbs, the crazier they get.\ngj04\t0\t*\tDay by day the facts.\n",
    },
    "SST-2": {
        "train.tsv": "sentence\tlabel\nhide new secretions \t0\ncontains no wit , only \"labored gags \t0\n"
                     "that loves its characters \t1\n",
        "dev.tsv": "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nunflinchingly bleak \t0\n",
    },
    "QQP": {
        "train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t3\t4\tWhat is \"it?\tWhat's it?\t1\n"
                     "2\t5\t6\tHow old?\tWhere?\t0\n",
        "dev.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t8\t9\tWhy?\tWhy not?\t0\n",
    },
    "STS-B": {
        "train.tsv": "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                     "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n"
                     "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays a flute.\tA man plays a \"flute.\t3.800\n",
        "dev.tsv": "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                   "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat.\tA man wears a hat.\t2.500\n",
    },
    "MNLI": {
        "train.tsv": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
                     "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
                     "0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tConceptually cream skimming.\t"
                     "Product and geography.\tneutral\tneutral\n"
                     "1\t101457\t101457e\ttelephone\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tyou know during the season\t"
                     "You lose the things.\tentailment\tentailment\n",
        "dev_matched.tsv": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                           "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
                           "label5\tgold_label\n"
                           "0\t63735\t63735n\tslate\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe new rights are nice.\t"
                           "Everyone loves them.\tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n",
        "dev_mismatched.tsv": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                              "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\t"
                              "label4\tlabel5\tgold_label\n"
                              "0\t75290\t75290c\tletters\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tYour gift is appreciated.\t"
                              "Hundreds of students.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
                              "contradiction\tcontradiction\n"
                              "1\t75291\t75291e\tletters\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tA gift.\tA present.\t"
                              "entailment\tentailment\tentailment\tentailment\tentailment\tentailment\n",
    },
    "QNLI": {
        "train.tsv": "index\tquestion\tsentence\tlabel\n0\tWhen?\tIn 1990.\tentailment\n1\tWho?\tNobody knows.\tnot_entailment\n",
        "dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWhat?\tA \"thing.\tnot_entailment\n",
    },
    "RTE": {
        "train.tsv": "index\tsentence1\tsentence2\tlabel\n0\tDana Reeve died.\tChristopher Reeve had an accident.\t"
                     "not_entailment\n1\tYet, we now know.\tWe know.\tentailment\n",
        "dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tA man is here.\tSomeone is here.\tentailment\n",
    },
    "WNLI": {
        "train.tsv": "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin.\tThe pin had a hole.\t1\n1\tIt fell.\tIt rose.\t0\n",
        "dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged.\tThe hair is clogged.\t0\n",
    },
    "MRPC": {  # UTF-8 BOM before the header, as in the real files
        "train.tsv": BOM + "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused \" the witness "
                     "\" .\tReferring to him as \" the witness .\n0\t2108705\t2108831\tYucaipa owned it .\tYucaipa bought it .\n",
        "dev.tsv": BOM + "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\tHe said \" no .\tHe said no .\n",
    },
}


def write_glue(root: Path, tasks: dict[str, dict[str, str]] | None = None) -> Path:
    """Write the fixture folders under ``root`` and return it."""
    for dirname, files in (tasks or FILES).items():
        (root / dirname).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (root / dirname / name).write_text(content, encoding="utf-8")
    return root
