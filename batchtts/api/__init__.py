"""The API stage: the aiohttp client, error bodies, and what the API says of models, formats and voices."""
