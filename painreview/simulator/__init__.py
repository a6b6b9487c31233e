"""A GP practice simulator: synthetic patients, a GP Connect read endpoint, task and prescription APIs in
two supplier styles, an approval inbox, and faults on demand. Its own app: ``create_simulator_app``."""

from painreview.simulator.app import SimulatorSettings, create_simulator_app

__all__ = ["SimulatorSettings", "create_simulator_app"]
