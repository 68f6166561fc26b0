"""Review: what a person must look at (the queue, with image crops), and their decisions.

Items (`queue.review_queue`), each with a stable id:
- `<page>:<field>:<option>` kind `mark`: a doubtful mark -> decide `marked` (已标记), `empty`
  (空白) or `cancel` (涂改作废: the voter marked and struck it out; not a vote, logged as such);
- `<page>:<field>:writeinK` kind `writein`: a marked (or doubtful) write-in box whose name is not
  typed yet, or a write-in line with ink and no mark (when the reading says so, key
  `writein_ink`) -> type the name from the image (`writein`, which also counts the mark) or
  `empty` (the mark does not count: nothing or nobody on the line);
- `<page>:serial` kind `unknown_serial`: a serial not in the printed set -> `accept` / `dismiss`;
- `<page>:sheet` kind `sheet`: a page the engine sent to review for a reason other than a mark;
- `<page>:missing` kind `missing_page`: a ballot with a page never read -> re-feed it, or
  `accept` / `void` / `dismiss`;
- `<page>:unreadable` kind `unreadable`: a page that could not be read -> re-feed the sheet (the
  item clears itself once that page is counted), key its marks by hand (`tally.manual`: it
  clears once a second login confirms them), or `dismiss`;
- `<page>:refused` kind `refused`: a page that read but that a rule of the meeting refused at
  ingest (a serial printed for another form) -> `dismiss` with a reason.
A decision on a whole ballot (`void` with a reason, `unvoid`, `accept`, `dismiss`) may be made on
any `<page>` item, also on a sheet that read OK (`<page>` alone). A decision that changes a mark
(a box becomes counted or stops counting), a cancellation, and every decision on a whole sheet
must say why. Every decision is a new row (never an edit) with who, when, before, after
and why, written with its audit entry in one transaction; the figures follow because ballots are
re-assembled from readings plus decisions (`tally.ballots`).

Its modules, by what they do (import each name from its module; this package exports none):
`queue` builds the items from the stored ballots; `decisions` records one (`decide`) and
reads them back (`history`, `writein_names`); `items` says what an item is, its id, its state
and its JSON; `crops` cuts the parts of the image an item shows; `labels` words a box as its
form prints it; `errors` holds `ReviewError`. Nothing here imports `tally.manual` or
`tally.ledger`: they build on it.
"""
