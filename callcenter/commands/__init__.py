"""The command-line interfaces of the domains (`callcenter legacy|seats|records|token|db|
asterisk-conf ...`); `callcenter.process.cli` assembles them under one `callcenter`."""
