"""What an operator sees of the running system: metrics (``metrics``), traces
(``tracing``), structured logs (``logs``) and the decisions the services record
(``decisions``). Installed for every registered service by the composition roots and
the shared runtime, so a service added to the registry is observed like the others
(docs/observability.md)."""
