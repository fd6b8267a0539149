"""Driver program of a pipeline run (started by Spark's PythonRunner in the driver pod)."""

import sys

from dataops.runtime.spark_job import main

if __name__ == "__main__":
    sys.exit(main())
