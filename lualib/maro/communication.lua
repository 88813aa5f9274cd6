--- maro.communication: the same table as maro, under the original's import path.
return require("maro")
