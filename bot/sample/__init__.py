"""The bundled sample workspace for the demo and the console chat."""
