"""Pipeline stages: one module per stage, pure functions plus thin Prefect tasks."""

import logging
import os

# Quiet, offline defaults; set before TensorFlow, Prefect or Great Expectations
# are imported. Users can still override each one in their environment.
for _key, _value in {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,data_contracts",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}.items():
    os.environ.setdefault(_key, _value)

# Stage progress (one line per trial) reaches the Prefect run logs via
# PREFECT_LOGGING_EXTRA_LOGGERS; the level must let it through.
logging.getLogger("tasks").setLevel(logging.INFO)
