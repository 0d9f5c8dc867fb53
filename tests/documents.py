"""GraphQL documents more than one test module sends, written once. A test that needs a narrower or a wider
selection writes its own beside it; these select what the modules that share them read."""

from __future__ import annotations

ENROLLMENT_FIELDS = """
  id status programmes membershipNumber coverageStart coverageEnd monthlyContribution
  rejectionReason terminationReason verifiedAt fundingSource { code }
  checks { kind passed note } worker { id }
"""

PROPOSE = f"""
mutation Propose($input: ProposeEnrollmentInput!) {{
  proposeEnrollment(input: $input) {{ enrollment {{ {ENROLLMENT_FIELDS} }} errors {{ code field message }} }}
}}
"""
