"""Songs: the queue — add (or upvote what is already queued), vote, remove."""
