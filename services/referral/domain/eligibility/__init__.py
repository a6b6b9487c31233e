"""Who the pain and opioid review service is for: pure rules, FHIR R4 JSON in, a decision with reasons out.

The rules are the service evaluation's (BRIEF.md, pathway step 1), made precise here:

* **Adult**: 18 or over on the referral date; an 18th birthday on the referral date counts (born on
  29 February: 1 March in other years). A partial birth date decides only if every day it can stand
  for gives the same answer.
* **Long-term opioid prescribing.** Opioid prescriptions dated on or before the referral date form
  courses: a gap of more than 3 calendar months between one prescription (or the end of its
  validity/effective period) and the next starts a new course. The latest course must be *current*
  (it covers a day no more than 3 calendar months before the referral date), must have *begun more
  than 3 months before* the referral date (its first prescription strictly before the referral date
  less 3 calendar months: exactly 3 months is not more than 3 months) and must hold *at least 3
  prescriptions*. Calendar months clamp to the month's end (31 May less 3 months is 28/29 February).
  Each MedicationRequest or MedicationStatement counts once; records of the same ingredients on the
  same day, and statements derived from a request, count once together.
* **Chronic non-cancer pain**: an active painful condition not associated with cancer that is
  chronic by its nature or was recorded (or began) more than 3 calendar months before the referral.
* **Excluded**: active cancer (clinical status active, recurrence or relapse; remission, inactive or
  resolved do not exclude), end-of-life or palliative care, illicit drug use with no opioid prescribed.

Nothing unknown is guessed: a missing birth date, undated or unidentifiable medicines that could
change the outcome, or no current pain condition make the decision `needs-review`. Each reason is a
coding from the service's CodeSystem (`ELIGIBILITY_REASON_SYSTEM`, `data/codesystem-eligibility-reason.json`).

The package: `model` (the vocabulary), `records` (reading FHIR records), `rules` (the decision).
"""

from services.referral.domain.eligibility.model import (
    ADULT_AGE,
    DMD_SYSTEM,
    ELIGIBILITY_REASON_SYSTEM,
    FHIR_BASE,
    LONG_TERM_MONTHS,
    MAX_GAP_MONTHS,
    MIN_PRESCRIPTIONS,
    SNOMED_SYSTEM,
    Coding,
    Decision,
    EligibilityResult,
    MedicineRecord,
    OpioidCourse,
    Outcome,
    PatientRecords,
    Reason,
    load_data,
)
from services.referral.domain.eligibility.records import (
    add_months,
    distinct_medicines,
    medicine_entry,
    medicine_record,
    parse_fhir_date,
)
from services.referral.domain.eligibility.rules import assess_eligibility, latest_opioid_course

# fmt: off
__all__ = [
    "ADULT_AGE", "DMD_SYSTEM", "ELIGIBILITY_REASON_SYSTEM", "FHIR_BASE", "LONG_TERM_MONTHS", "MAX_GAP_MONTHS",
    "MIN_PRESCRIPTIONS", "SNOMED_SYSTEM", "Coding", "Decision", "EligibilityResult", "MedicineRecord",
    "OpioidCourse", "Outcome", "PatientRecords", "Reason", "add_months", "assess_eligibility",
    "distinct_medicines", "latest_opioid_course", "load_data", "medicine_entry", "medicine_record",
    "parse_fhir_date",
]
# fmt: on
