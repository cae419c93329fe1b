"""Pages the API serves as files (the development live inbox); a package so the wheel
carries them as package data."""
