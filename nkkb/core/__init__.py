"""The core library every app builds on; it imports no app (`make lint` checks it).

What knowledge-base records share (models, admin, FilterSets, tables, list views, facets, the
API machinery under api/), the HTTP cache and middleware, exports and releases, curator accounts.
"""
