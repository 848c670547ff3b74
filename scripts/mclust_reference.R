# mclust's choices that tests/test_select.py compares select_components with.
# Regenerate: apt-get install r-cran-mclust (Debian 12: R 4.2.2, mclust 6.0.0), then, from the
# repository root, Rscript scripts/mclust_reference.R (deterministic: mclust's hierarchical start).
suppressMessages(library(mclust))
data_dir <- file.path("mixzoo", "datasets", "data")
cases <- list(
  c("galaxy", "galaxy_rg1997.csv", 1), c("faithful waiting", "faithful.csv", 2), c("acidity", "acidity_rg1997.csv", 1)
)
for (case in cases) {
  x <- read.csv(file.path(data_dir, case[2]), comment.char = "#")[[as.integer(case[3])]]
  m <- Mclust(x)  # the default: G = 1..9, models E and V, BIC
  cat(sprintf("%s: %s,%d  BIC %.4f  loglik %.4f\n", case[1], m$modelName, m$G, m$bic, m$loglik))
  cat("  weights", format(m$parameters$pro, digits = 6), "\n")
  cat("  means  ", format(m$parameters$mean, digits = 6), "\n")
  cat("  sds    ", format(sqrt(m$parameters$variance$sigmasq), digits = 6), "\n")
}
# galaxy: mclust's own EM started from select_components' V,3 fit (weights, means, sds below)
x <- read.csv(file.path(data_dir, "galaxy_rg1997.csv"), comment.char = "#")[[1]]
start <- list(
  pro = c(0.0854, 0.8781, 0.0366), mean = c(9.714, 21.403, 33.01),
  variance = list(modelName = "V", d = 1, G = 3, sigmasq = c(0.4222, 2.1789, 0.8317)^2)
)
out <- em(modelName = "V", data = x, parameters = start)
cat(sprintf("galaxy V,3 from mixzoo's start: loglik %.4f  BIC %.4f (mclust's own V,3: BIC %.4f)\n",
            out$loglik, bic("V", out$loglik, n = length(x), d = 1, G = 3), mclustBIC(x, G = 3, modelNames = "V")[1]))
