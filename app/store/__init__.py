"""The SQLite database of chats: engine, migrations, ORM models, queries and search."""
