"""A fake Slack Web API served over real HTTP on 127.0.0.1, with real state: what `handoff demo`
posts to (no Slack account, no network) and what the tests talk to (through `tests.slack_api`,
which lists where it differs from Slack). Nothing else in handoff imports it.

Modules: `server` (the HTTP server and `FakeSlack`), `state` (the workspace), `chat`,
`conversations`, `views`, `files` (the Web API methods), `responses` (response URLs), `blocks`
(Block Kit limits), `faults` (outages and the rate limiter), `params` (reading a call).
"""
