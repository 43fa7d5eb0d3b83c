# Writes dsnn_space.json with Python ConfigSpace 1.2: `python make_dsnn_space.py dsnn_space.json`.
from ConfigSpace import (ConfigurationSpace, UniformFloatHyperparameter as F, UniformIntegerHyperparameter as I,
    CategoricalHyperparameter as C, OrdinalHyperparameter as O, Constant,
    EqualsCondition, NotEqualsCondition, GreaterThanCondition, LessThanCondition, InCondition,
    AndConjunction, OrConjunction, ForbiddenEqualsClause, ForbiddenInClause, ForbiddenAndConjunction,
    ForbiddenGreaterThanRelation)
cs = ConfigurationSpace(name="dsnn-mnist")
opt = C("optimizer", ["SGD", "Adam", "adadelta", "adagrad", "rmsprop", "radam", "ranger"], default_value="SGD")
lr = F("lr", 0.001, 0.2, default_value=0.1, log=True, meta={"unit": "learning rate"})
mom = F("momentum", 0.0, 0.9, default_value=0.9)
nest = C("nesterov", [True, False], default_value=False)
beta1 = F("beta1", 0.8, 0.99)
eps = F("eps", 1e-10, 1e-6, log=True)
wb = I("weight_bits", 2, 5, default_value=5)
aib = I("activation_integer_bits", 4, 32, default_value=16)
afb = I("activation_fraction_bits", 4, 32, default_value=16)
sd = I("shift_depth", 1, 20, default_value=20)
st = C("shift_type", ["Q", "PS"], weights=[0.3, 0.7], default_value="PS")
rnd = C("rounding", ["deterministic", "stochastic"])
wd = F("weight_decay", 1e-6, 1e-2, default_value=1e-4, log=True)
bs = O("batch_size", [32, 64, 128, 256], default_value=128)
warm = I("warmup_epochs", 0, 5)
step = I("lr_step", 10, 100, log=True)
ds = Constant("dataset", "mnist")
cs.add([opt, lr, mom, nest, beta1, eps, wb, aib, afb, sd, st, rnd, wd, bs, warm, step, ds])
cs.add([
    EqualsCondition(mom, opt, "SGD"),
    AndConjunction(GreaterThanCondition(nest, mom, 0.0), EqualsCondition(nest, opt, "SGD")),
    OrConjunction(EqualsCondition(beta1, opt, "Adam"), EqualsCondition(beta1, opt, "radam")),
    NotEqualsCondition(eps, opt, "SGD"),
    InCondition(rnd, st, ["Q"]),
    LessThanCondition(warm, bs, 256),
    GreaterThanCondition(step, lr, 0.05),
])
cs.add([
    ForbiddenAndConjunction(ForbiddenEqualsClause(st, "Q"), ForbiddenInClause(wb, [2, 3])),
    ForbiddenEqualsClause(aib, 4),
    ForbiddenInClause(opt, ["adadelta"]),
    ForbiddenGreaterThanRelation(afb, aib),
])
import sys
cs.to_json(sys.argv[1], indent=2)
print(cs)
