"""dataops.dev/v1alpha1: DataPipeline, DataQualitySuite, DataPolicy."""

from dataops.api.v1alpha1.common import API_VERSION, GROUP, VERSION
from dataops.api.v1alpha1.datapipeline import DataPipeline, DataPipelineSpec, DataPipelineStatus
from dataops.api.v1alpha1.datapolicy import DataPolicy, DataPolicySpec, DataPolicyStatus
from dataops.api.v1alpha1.dataqualitysuite import (
    DataQualitySuite,
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "DataPipeline",
    "DataPipelineSpec",
    "DataPipelineStatus",
    "DataPolicy",
    "DataPolicySpec",
    "DataPolicyStatus",
    "DataQualitySuite",
    "DataQualitySuiteSpec",
    "DataQualitySuiteStatus",
]
