"""MLflow (``mlflow==3.17.2``): run with ``.bench-venvs/mlflow/bin/python``.

"Register" is ``mlflow.sklearn.log_model(..., registered_model_name=...)`` inside
``mlflow.start_run()`` (a run is how MLflow logs a model), with ``input_example`` as the
counterpart of OpsML's ``sample_data``. MLflow 3.17 saves scikit-learn models with skops by
default and refuses tree models unless their node type is trusted, so the call passes
``skops_trusted_types=["sklearn.tree._tree.Tree"]`` as its error message recommends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _common import (
    BenchArgs,
    case,
    claim_stdout,
    emit,
    import_times,
    make_model,
    package_versions,
    parse_args,
    repeat,
    timed,
)

MODEL_NAME = "bench-rf"
TRUSTED = ["sklearn.tree._tree.Tree"]


def main(args: BenchArgs) -> None:
    """Run the requested cases and emit the JSON result."""
    out = claim_stdout()
    results: dict[str, Any] = {}
    try:
        if "import" in args.cases:
            with case(results, "import") as entry:
                entry.update(import_times("mlflow", args.import_n))
        if "register" in args.cases or "load" in args.cases:
            _registry_cases(args, results)
        if "query" in args.cases:
            results["query_setup"] = {
                "skipped": "MLflow has no bulk-seedable card table comparable to OpsML's; "
                "the 100 000-card case is measured for ours and OpsML 3 only"
            }
    finally:
        packages = ["mlflow", "scikit-learn", "numpy", "pandas", "sqlalchemy", "skops"]
        emit(out, {"peer": "mlflow", "packages": package_versions(packages), "cases": results})


def _registry_cases(args: BenchArgs, results: dict[str, Any]) -> None:
    import mlflow
    import mlflow.sklearn

    # MLFLOW_TRACKING_URI (sqlite, in the work dir) comes from the orchestrator.
    experiment = mlflow.create_experiment(
        "bench", artifact_location=(Path.cwd() / "mlartifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment)
    clf, x = make_model()
    versions: list[str] = []

    def register() -> float:
        def log_model() -> None:
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(
                    clf,
                    name="model",
                    input_example=x[:5],
                    registered_model_name=MODEL_NAME,
                    skops_trusted_types=TRUSTED,
                )
            versions.append(str(info.registered_model_version))

        return timed(log_model)

    if "register" in args.cases:
        with case(results, "register") as entry:
            for _ in range(args.warmup):
                register()
            entry["samples"] = [register() for _ in range(args.register_n)]
    if "load" in args.cases:
        with case(results, "load") as entry:
            while len(versions) < 2:
                register()

            def load(i: int) -> None:
                model = mlflow.sklearn.load_model(
                    f"models:/{MODEL_NAME}/{versions[i % len(versions)]}"
                )
                if type(model) is not type(clf):
                    raise RuntimeError(f"load_model gave {type(model)!r}")

            entry["samples"] = repeat(load, args.load_n, args.warmup)
            entry["versions_cycled"] = len(versions)


if __name__ == "__main__":
    main(parse_args())
