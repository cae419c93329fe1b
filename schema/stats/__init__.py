"""The analytics: deliveryStats and consentStats (ADMIN, MARKETER, AUDITOR)."""
