"""Operations on the pipeline itself: throwaway repo copies, determinism checks, param scoping, resume."""
