"""Testing with arm-sim: the pytest plugin, and simulators started or attached to outside pytest.

- `ArmSim.launch(home)` / `ArmSim.attach(url, home)` / the `arm_sim` pytest fixture: a running simulator (always
  another process) with URLs, CA, bootstrap credentials, clients, `request()`, `deploy()`, `what_if()`,
  `validate()`, `audit()` (simulator.py, connection.py);
- what they raise and return: `ArmError`, `DeploymentRefused`, `DeploymentFailed`, `ErrorDetail` (errors.py);
  `Reply` (wire.py); `WhatIf`, `Change`, `PropertyChange`, `Validation` (results.py);
- `Sim`: the bare process (server.py), what arm-sim's own test suite uses;
- the plugin itself: pytest_plugin.py (entry point `arm_sim` in the `pytest11` group), shared.py (one simulator
  for all xdist workers).

Standard library only at import time: the plugin is loaded by every pytest run where arm-sim is installed.
"""

from arm_sim.testing.errors import ArmError, DeploymentFailed, DeploymentRefused, ErrorDetail
from arm_sim.testing.results import Change, PropertyChange, Validation, WhatIf
from arm_sim.testing.server import Sim, free_port, free_range
from arm_sim.testing.simulator import ArmSim
from arm_sim.testing.wire import Reply

__all__ = ["ArmError", "ArmSim", "Change", "DeploymentFailed", "DeploymentRefused", "ErrorDetail", "PropertyChange",
           "Reply", "Sim", "Validation", "WhatIf", "free_port", "free_range"]
