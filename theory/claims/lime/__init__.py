"""Claims about LIME (paper §5; docs/theory.md §6–§9): empirical LIME (:mod:`.empirical`), its population limit
``β^∞`` (:mod:`.limit`) and the approximations of that limit, Eq. (19) and the large-d limit (:mod:`.limit_approx`)."""
