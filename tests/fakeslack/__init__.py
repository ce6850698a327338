"""A fake Slack Web API for tests, served over real HTTP; import it from `tests.slack_api`.

Modules: `server` (the HTTP server and `FakeSlack`), `state` (the workspace), `chat`,
`conversations`, `views`, `files` (the Web API methods), `responses` (response URLs), `blocks`
(Block Kit limits), `faults` (outages and the rate limiter), `params` (reading a call).
"""
