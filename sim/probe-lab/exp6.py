import json, numpy as np, sys
sys.path.insert(0,'sim/probe-lab')
from sim import *
data=json.load(open('sim/probe-lab/perL-101.json'))
def kmedoids(D, k, iters=20):
    n=len(D); Dz=np.where(np.isnan(D),0,D)
    # init: most central, then farthest
    med=[int(np.argmin(Dz.sum(1)))]
    while len(med)<k:
        dm=np.min(Dz[:,med],axis=1); med.append(int(np.argmax(dm)))
    for _ in range(iters):
        lab=np.argmin(Dz[:,med],axis=1); new=[]
        for c in range(k):
            mem=np.where(lab==c)[0]
            if len(mem)==0: new.append(med[c]); continue
            new.append(int(mem[np.argmin(Dz[np.ix_(mem,mem)].sum(1))]))
        if new==med: break
        med=new
    return med, np.argmin(Dz[:,med],axis=1)
def make_cluster(k):
    cache={}
    def nxt(D, probed, r, lost=()):
        key=id(D)
        if key not in cache: cache.clear(); cache[key]=kmedoids(D,k)
        med,lab=cache[key]
        # ping unprobed medoids first (in order), up to ping 2; then descend: bounded score restricted to the closest medoid's cluster
        if len(probed)+len(lost) < min(k,2):
            for m in med:
                if m not in probed and m not in lost: return m
        pm=[(rr,a) for a,rr in zip(probed,r) if a in med]
        sc=policy_next_scores(D,probed,r)
        for a in list(probed)+list(lost): sc[a]=np.inf
        if pm:
            c=med.index(min(pm)[1]); mask=(lab!=c); sc2=sc.copy(); sc2[mask]=np.inf
            if np.isfinite(sc2).any(): sc=sc2
        return int(np.argmin(sc))
    return nxt
from exp2 import policy_next_scores
for ds, rows in data.items():
    for k in (2,3,4):
        nxt=make_cluster(k); res=[]
        for r in rows:
            D,T=load(r); med,_=kmedoids(D,k)
            res.append(100*cover(D,T,med[0],nxt=nxt))
        print(ds,'clusters',k,round(np.mean(res),1),flush=True)
