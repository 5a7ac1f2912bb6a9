"""The executor: realize the target blueprint, step by step.

Example of a control-plane step added after the built-in one::

    executor = Executor(engine)

    @executor.step("Deploy DNS records", fatal=False)
    def deploy_dns(ctx: StepContext) -> dict[str, object]:
        names = [str(zone.id) for zone in ctx.blueprint.in_service_zones()]
        return {"records": len(names)}

    report = executor.execute()
"""

from reconfigurator.executor.external_networking import STEP_NAME as EXTERNAL_NETWORKING_STEP
from reconfigurator.executor.external_networking import EnsureExternalNetworking
from reconfigurator.executor.report import ExecutionReport, StepOutcome, StepReport
from reconfigurator.executor.runner import Executor
from reconfigurator.executor.steps import Step, StepContext, StepDetails
from reconfigurator.networking.policy import MissingRowPolicy

__all__ = [
    "EXTERNAL_NETWORKING_STEP",
    "EnsureExternalNetworking",
    "ExecutionReport",
    "Executor",
    "MissingRowPolicy",
    "Step",
    "StepContext",
    "StepDetails",
    "StepOutcome",
    "StepReport",
]
