"""The command surface: the `shockwatch` typer app and the commands it mounts."""
