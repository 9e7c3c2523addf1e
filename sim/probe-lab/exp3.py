import json, numpy as np, sys
sys.path.insert(0,'sim/probe-lab')
from sim import *
from exp2 import pseudo_rows
data=json.load(open('sim/probe-lab/perL-101.json'))
def score_L(D, X, L, pings):
    s=0
    for x in X:
        best=np.min(x[np.isfinite(x)]); p=run_client(D,x,L,pings=pings)
        g=min(x[j] for j in p); s+= (g<=best*1.1 or g<=best+5) or 0.5*min(1,(best+5)/g)*0
    return s
for ds, rows in data.items():
    for fam in ('self','mix','both'):
        for pings in (1,2,3):
            res=[]
            for r in rows:
                D,T=load(r); X=pseudo_rows(D,fam); n=len(D)
                sc=[score_L(D,X,L,pings) for L in range(n)]
                res.append(r['perL'][int(np.argmax(sc))])
            print(ds, fam, pings, round(np.mean(res),1), 'cur', round(np.mean([r['cur'] for r in rows]),1), flush=True)
