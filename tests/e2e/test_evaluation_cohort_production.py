"""Issue 17, production-shaped: the paper's cohort (34 patients, the interventions of its Figures 2 and 3)
enrolled through the processes docker-compose.yml runs (each service alone, PostgreSQL, NATS JetStream,
the GP practice simulator), as in test_pathway_production.py, and `$evaluate-measure` reproduces each
share within a point. At practice A81002, so that the other pathway tests' patients stay out of it.

Needs PostgreSQL on 127.0.0.1:5432 and NATS with JetStream on 127.0.0.1:4222 (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from tests.e2e.cohort_flow import assert_the_papers_shares_within_a_point, enrol_cohort, record_interventions
from tests.e2e.production import ProductionStack
from tests.support.compose import load_compose

pytestmark = pytest.mark.e2e
PRACTICE = "A81002"


def test_the_papers_cohort_enrolled_on_separate_processes_gives_its_shares_within_a_point(
    stack: ProductionStack,
) -> None:
    with stack.diagnosed():
        token = stack.token(practice=PRACTICE, scope="system/*.cruds")
        sim_token = load_compose(environ={})["services"]["gp-simulator"]["environment"]["GPSIM_TOKEN"]
        patients = enrol_cohort(
            None,
            token=token,
            sim_token=sim_token,
            practice=PRACTICE,
            mesh_url=stack.mesh_url,
            services=stack.services,
        )
        careplan = stack.services["careplan"]
        record_interventions(careplan, token, patients)
        shares = assert_the_papers_shares_within_a_point(careplan, token, PRACTICE)
        print(stack.timings, shares)
