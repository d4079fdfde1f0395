"""The Config Management Plugin: ``freightyard-cmp generate`` renders one stage's app inside Argo CD."""
