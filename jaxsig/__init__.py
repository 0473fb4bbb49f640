from jaxsig._primitives import log_sigmoid, logit, sigmoid, softplus
