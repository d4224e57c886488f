"""The web app's views, one module per page family; each is thin: parse, call a selector or a service,
render. Every view that shows a record looks it up through `org.scoping`, so out of scope means 404."""
