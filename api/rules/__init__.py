"""The programme's rules as pure functions: money, NIKs, dates, input validation. No Context, no session: a rule
here is the same whoever asks and through whichever door (the graph, the command line, a batch job)."""
