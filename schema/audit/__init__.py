"""The audit log: auditLog (ADMIN, AUDITOR); Customer.accessLog lives with the Customer type."""
