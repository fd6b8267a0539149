"""dataops-operator: Kubernetes-native DataOps platform."""

__version__ = "0.1.0"
