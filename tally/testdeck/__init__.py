"""The test deck (L&A, logic and accuracy testing): a pre-marked deck and its expected count.

Before a count the 监票人 watch the machine count a deck whose answer is known:
- `plan`: which marks each deck sheet of a form carries (every option of every field marked at
  least once, over-marked blocks, a blank sheet, a cancelled mark that must go to review, each
  voter category), with serials of the test range (`tally.testmode`);
- `expect`: the readings a correct reader makes of those sheets, turned into `Ballot`s by the
  store's own `tally.ballots` and counted by `tally.rules` — the same code that counts the
  stack — into named figures; `deckfile` is the expected JSON (`ExpectedDeck`);
- `make`: the deck of a meeting: plan every form, render the PDF (`forms.testdeck`), record
  the deck's serials in the meeting's printed set and log the print;
- `check`: the machine's figures (the stored ballots) against the expected ones, figure by
  figure, logged in the audit chain; `signoff` prints it as 测试票检验记录 for signatures.
Nothing here reads images; the deck is read like any stack (`scantally ingest`).
"""
