"""The case domain, shared by the console, the JSON API, the voice line and the workers.

One module per concept: `opening` (a case opens once per call, from the workers), `queue`,
`case` (one case as people read it), `casework` (what people do to a case), `recordings`
(which version a person may hear), `audit` and `statistics` (what people read of the trail and
the figures), `followup` (a reporter calls back) and `reference` (references and PINs).
Nothing here imports Flask: the views in `ivr.operator` and `ivr.api` are thin layers over it.
"""
