"""Testing with arm-sim: start a simulator on free ports in a temporary home, and the pytest plugin.

- `ArmSim.launch(home)` / the `arm_sim` pytest fixture: a running simulator with URLs, CA, bootstrap credentials,
  client factories and `deploy()` (arm_sim/testing/simulator.py);
- `Sim`: the bare process (arm_sim/testing/server.py), what arm-sim's own test suite uses;
- the plugin itself: arm_sim/testing/pytest_plugin.py (entry point `arm_sim` in the `pytest11` group).

Standard library only at import time: the plugin is loaded by every pytest run where arm-sim is installed.
"""

from arm_sim.testing.server import Reply, Sim, free_port, free_range
from arm_sim.testing.simulator import ArmError, ArmSim, DeploymentFailed

__all__ = ["ArmError", "ArmSim", "DeploymentFailed", "Reply", "Sim", "free_port", "free_range"]
