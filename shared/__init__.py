"""The platform kit every Tila service uses. It knows nothing about work supervision."""
