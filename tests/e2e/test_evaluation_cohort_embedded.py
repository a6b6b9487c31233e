"""Issue 17, embedded mode: a cohort shaped like the evaluation paper's (34 patients, the interventions of
its Figures 2 and 3) enrolled through the running system (`pain-review up`, the GP practice simulator and
mesh-sandbox, as in test_pathway_embedded.py), and `$evaluate-measure` reproduces each share within a point.

The cohort is enrolled at practice A81002 so that the other pathway tests' patients (A81001) stay out of it.
"""

from __future__ import annotations

import pytest

from painreview.simulator_app import TOKEN_FILE
from shared.auth import AuthSettings, mint_local_token
from tests.e2e.cohort_flow import assert_the_papers_shares_within_a_point, enrol_cohort, record_interventions

pytestmark = pytest.mark.e2e
PRACTICE = "A81002"


def test_the_papers_cohort_enrolled_through_the_system_gives_its_shares_within_a_point(
    pathway_system, mesh_sandbox
):
    base, workdir = pathway_system
    token = mint_local_token(AuthSettings(var_dir=workdir / "var"), practice=PRACTICE, scope="system/*.cruds")
    sim_token = (workdir / "var" / TOKEN_FILE).read_text().strip()
    patients = enrol_cohort(base, token=token, sim_token=sim_token, practice=PRACTICE, mesh_url=mesh_sandbox)
    record_interventions(f"{base}/careplan", token, patients)
    shares = assert_the_papers_shares_within_a_point(f"{base}/careplan", token, PRACTICE)
    print(shares)
