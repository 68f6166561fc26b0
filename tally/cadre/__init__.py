"""综合分析: one cadre across meetings, stages and years.

Every person a stored form lists (candidate, leader, item) is indexed with the spec's
`person_id` (`people`); the figures of each meeting come from the meeting's own tally
(`tally.results` -> `tally.rules`), cut per person and cached by the meeting's audit head
(`figures`); stages without ballots (谈话推荐 …) are entered by hand into a hash chain of their
own (`entries`); `view` joins it all into one `CadreView` per person. People without a
`person_id` are matched only within their meeting. Reads the store; renders nothing (the PDF
and xlsx are `tally.report.cadre_pdf` / `cadre_xlsx`). Must not import `server` or `intake`.
"""
