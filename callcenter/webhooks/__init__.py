"""The hand-off to the province's work-order platform: a durable outbox of events about
calls and signed webhooks that deliver them (README: "Webhooks to the province
platform"). The records domain announces its facts here, in the transaction that writes
them; the dispatcher delivers them, at least once and in order per call."""
