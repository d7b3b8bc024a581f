"""Shared pieces of the feature services: the request's unit of work and database error mapping.

Do:
- open the transaction at the endpoint: ``async with user_work(runtime, user) as tx:``, and pass
  ``tx`` to service functions; it commits when the block ends and publishes the events appended
  in it afterwards.
- append events through ``queueit.events.repository.append`` so they are published.

Don't:
- open or commit transactions inside services or repositories.
- call ``runtime.publish`` before the commit.
"""
