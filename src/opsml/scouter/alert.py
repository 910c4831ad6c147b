"""Alert configuration of drift profiles (OpsML 3's ``opsml.scouter.alert``, from scouter-ml)."""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.alert import (
        AlertDispatchType,
        AlertThreshold,
        AlertZone,
        ConsoleDispatchConfig,
        CustomMetricAlertCondition,
        CustomMetricAlertConfig,
        LLMAlertConfig,
        LLMMetricAlertCondition,
        OpsGenieDispatchConfig,
        PsiAlertConfig,
        PsiChiSquareThreshold,
        PsiFixedThreshold,
        PsiNormalThreshold,
        SlackDispatchConfig,
        SpcAlert,
        SpcAlertConfig,
        SpcAlertRule,
        SpcAlertType,
    )

__all__ = [
    "AlertDispatchType",
    "AlertThreshold",
    "AlertZone",
    "ConsoleDispatchConfig",
    "CustomMetricAlertCondition",
    "CustomMetricAlertConfig",
    "LLMAlertConfig",
    "LLMMetricAlertCondition",
    "OpsGenieDispatchConfig",
    "PsiAlertConfig",
    "PsiChiSquareThreshold",
    "PsiFixedThreshold",
    "PsiNormalThreshold",
    "SlackDispatchConfig",
    "SpcAlert",
    "SpcAlertConfig",
    "SpcAlertRule",
    "SpcAlertType",
]
