"""The REST API for the operator's other systems (BSS/CRM, the call centre's CTI screen): event intake,
reads and writes under `/api/v1/`, scoped, masked and audited exactly as the web is."""
