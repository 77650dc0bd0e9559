"""A Celery worker for the scale benchmark: the app's own worker, with a zero-latency no-op rule kind.

    python -m bench.noop_worker PROCESSES   (the app's settings in the environment)
"""

from __future__ import annotations

import sys

from saleor_app.domain import kinds
from saleor_app.engine.execute import ActionContext


class NoopConfig(kinds.KindConfig):
    pass


NOOP = kinds.register(kinds.RuleKind("bench_noop", "Benchmark no-op", NoopConfig, idempotent=True))


async def noop(_ctx: ActionContext) -> str:
    return "nothing"


def main() -> None:
    from saleor_app.scale_out import worker_app, worker_argv
    from saleor_app.settings import Settings
    from saleor_app.wiring import build_container

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app, _bridge = worker_app(settings, lambda: build_container(settings, extra_handlers={"bench_noop": noop}))
    app.worker_main(worker_argv(int(sys.argv[1]), "WARNING"))


if __name__ == "__main__":
    main()
