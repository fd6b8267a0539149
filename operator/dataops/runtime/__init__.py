"""What runs inside pods and in `dataops run`: the Spark job that executes a run plan."""
