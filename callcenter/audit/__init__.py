"""The API audit log: who changed what, when, from where (table `api_audit_log`)."""
