"""The Void Galaxy Finder: sky-coordinate search, a read-only web app and its JSON API."""
