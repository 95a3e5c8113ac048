"""Test equipment: the bundled offline task set, offline-built images, a scripted provider.

Nothing here is ever a model's result. Rows produced with it are labelled `scripted`.
"""
